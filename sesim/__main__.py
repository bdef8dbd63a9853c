from sesim.cli import main

main()
