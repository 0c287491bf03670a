
#compdef pacgan

_pacgan_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _PACGAN_COMPLETE=complete_zsh pacgan)
}

compdef _pacgan_completion pacgan

