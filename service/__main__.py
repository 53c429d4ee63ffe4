from service.entry import main

raise SystemExit(main())
