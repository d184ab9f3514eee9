"""Every figure, drawn on explicit Figure objects from outcomes and stores; PNG + vector PDF."""
