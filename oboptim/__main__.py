from oboptim.cli import main

main()
