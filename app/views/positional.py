"""Positions: being built (issue in progress)."""

import streamlit as st

st.title("Positions")
st.info("This page is being built.")
