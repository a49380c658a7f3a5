from doris_br.cli import main

main()
