"""Reports: the report object, rendering through reporter plugins, output destinations, gates."""
