/** The TEE commands' lines of `a3s box --help`, apart so that the help loads nothing else. */

/** The lines `a3s box --help` shows for these commands. */
export const TEE_HELP = `TEE:
  attest [--nonce HEX] [--measurement HEX] [--simulate]   this host's verified TEE report, or "no TEE here"
         [--ratls-cert FILE --ratls-key FILE]              also issue an RA-TLS certificate carrying it
  verify-ratls [--nonce HEX] [--measurement HEX] [--allow-simulated] HOST:PORT
                                     connect, verify the server's RA-TLS certificate, print the evidence
  seal [--measurement HEX] --key-file FILE [-i IN] [-o OUT]  encrypt to a measurement (AES-256-GCM, HKDF;
                                     this confidential guest's own when not given)
  unseal [--measurement HEX] --key-file FILE [-i IN] [-o OUT]  decrypt; refused under another measurement
  inject-secret [--from-file FILE] [--measurement HEX] BOX NAME  write /run/secrets/NAME (0400, tmpfs)
                                     only after attestation verifies (the value comes from stdin by default)`;
