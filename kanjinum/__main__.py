from kanjinum.cli import main

main()
