"""``python -m jazzlstm`` runs the command-line interface."""
from jazzlstm.cli import main

raise SystemExit(main())
