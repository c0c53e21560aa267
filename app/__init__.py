"""Encoder Explorer's Streamlit app."""
