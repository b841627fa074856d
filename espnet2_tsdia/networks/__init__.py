"""Model types (docs/design.md): encoder, decoder, encoder_decoder, on top of one stack class."""
