from .cli import exit_quietly, main

if __name__ == "__main__":
    exit_quietly(main())
