"""The shared HTTP edge of the desk (`agents_ui`) and the channels: error answers, validated
JSON bodies, uploads. It knows aiohttp and pydantic, never the composition root (`switchboard`)."""
