"""The local web UI (gd ui) and the saved version page (gd report)."""
