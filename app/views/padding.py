"""Padding & masks: being built (issue in progress)."""

import streamlit as st

st.title("Padding & masks")
st.info("This page is being built.")
