"""Test suite; tests mirror gateway/ module for module."""
