from pacgan_cli.cli.app import main

main()
