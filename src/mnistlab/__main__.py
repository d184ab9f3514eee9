from mnistlab.cli.main import entry

entry()
