from gskill.cli import main

main()
