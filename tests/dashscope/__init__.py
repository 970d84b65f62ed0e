"""DashScope: transport, adapters, CosyVoice, paid-once guarantees and moderation."""
