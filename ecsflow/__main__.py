from ecsflow.cli import main

main()
