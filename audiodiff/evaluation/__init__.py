"""Evaluation of what a user hears: copy synthesis through vocoders and the VAE, scored with perceptual,
pitch and spectral measures from the vocoder literature (``audiodiff evaluate-vocoder``)."""
