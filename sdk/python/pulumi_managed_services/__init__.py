"""Pulumi SDK for managed-services."""
