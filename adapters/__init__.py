"""Platform adapters: each translates one platform's requests into ``Incoming`` and ``Reply`` back."""
