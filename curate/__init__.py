"""curate: data curation for speech-text foundation models (Helium text corpus, Inner Monologue shards)."""

__version__ = "0.1.0"
