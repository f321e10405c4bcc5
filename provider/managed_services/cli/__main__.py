"""`python -m managed_services.cli ...`, the same as the `managed-services` console script."""

from . import main

raise SystemExit(main())
