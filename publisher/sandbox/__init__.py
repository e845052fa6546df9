"""A local emulator of the five platforms' publishing APIs (see ../shared/PLATFORMS.md): `publisher sandbox`."""
