"""Reference for bench/app_latency.py: a blank Streamlit page that echoes one text input."""

import streamlit as st

text = st.text_input("Text", key="text")
st.write(f"{len(text)} characters: {text}")
