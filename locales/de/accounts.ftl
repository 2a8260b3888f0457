# Das Konto, die App und die schnelle Rückkehr (consent.html, login.html).
# Die Texte sind HTML: Argumente werden maskiert.

## Die Auswahl: Konten, mit denen sich dieser Browser angemeldet hat

accounts-list-label = Konten, die du in diesem Browser verwendet hast
accounts-continue-as = Weiter als { $handle }
accounts-forget = Vergessen
accounts-forget-label = { $handle } in diesem Browser vergessen
accounts-another = Anderes Konto verwenden

## Zustimmung: das Konto und die App

accounts-your-server = Dein Server: { $server }
accounts-client-logo = Logo von { $client }
accounts-client-about = Über { $client }
accounts-client-privacy = Datenschutzerklärung
accounts-client-terms = Nutzungsbedingungen
