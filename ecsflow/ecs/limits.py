"""How long, and how often, ecsflow waits for AWS: the bounds that keep every call finite (DESIGN.md section 6).

An endpoint that accepts the connection and never answers must end in a clear error within about a minute,
not after botocore's defaults (60 s a read, up to 10 attempts: over ten minutes). ECS and CloudWatch Logs
answer the calls ecsflow makes in well under a second, so 25 s of silence is not a slow answer but a broken
one. Throttling and 5xx answers keep botocore's full retries (``AwsOptions.max_attempts``): AWS did answer.
"""

CONNECT_TIMEOUT = 10.0  # seconds to open a connection
READ_TIMEOUT = 25.0  # seconds of silence, once the request is sent, before the attempt is given up
# Attempts (the first included) when no answer came at all (a timeout, a refused or broken connection):
# one retry covers a dropped kept-alive connection; more would only multiply the wait.
NO_ANSWER_ATTEMPTS = 2
