"""Generated protobuf modules (proto/regen.sh); never edited by hand."""
