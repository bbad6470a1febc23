from ornith_local.cli.main import main

raise SystemExit(main())
