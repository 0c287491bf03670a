"""pacgan: progressive auxiliary-classifier GAN for class-conditional medical images."""

__version__ = "0.1.0"
