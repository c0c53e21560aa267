"""Layer by layer: being built (issue in progress)."""

import streamlit as st

st.title("Layer by layer")
st.info("This page is being built.")
