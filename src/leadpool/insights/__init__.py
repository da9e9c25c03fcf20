"""Platform intelligence: outcome facts, segment rates with honest uncertainty, privacy between
agencies, lead scores and suggestions (see docs/insights.md)."""
