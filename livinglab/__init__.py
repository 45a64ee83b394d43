"""Shared foundations of Living Lab: the error family every layer raises to users."""
