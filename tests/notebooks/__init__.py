"""The notebooks as code: exercises generated from solutions, checks against planted mistakes, cell order."""
