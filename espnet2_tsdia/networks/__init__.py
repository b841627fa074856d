"""Model types (DESIGN.md section 5): encoder, decoder, encoder_decoder."""
