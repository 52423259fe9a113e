from netvigil.cli import main

main()
