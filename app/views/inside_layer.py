"""Inside a layer: being built (issue in progress)."""

import streamlit as st

st.title("Inside a layer")
st.info("This page is being built.")
