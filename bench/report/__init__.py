"""Rendering records into tables for people; never computes a metric."""
