"""Real JupyterLab in headless Chromium, driven as a student would."""
