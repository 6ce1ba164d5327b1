"""The test suite, by layer: unit/, integration/, notebooks/, browser/, classroom/; helpers in support/."""
