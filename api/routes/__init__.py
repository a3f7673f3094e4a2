"""One APIRouter per resource, mounted under ``/api/v1`` by :func:`api.main.create_app`."""
