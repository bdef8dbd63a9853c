from securedrop_like.cli import main

main()
