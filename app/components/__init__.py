"""Custom Streamlit components the pages use."""
