"""Input discovery, WET reading and atomic output writing."""
