# Die Seiten, die eine Person sieht. Nachrichten sind HTML: Argumente werden
# maskiert, der Text selbst nicht.

## Gemeinsam

sign-in-title = Anmelden
continue = Weiter

## Auswahl (login.html)

login-title = Mit dem Fediverse anmelden
login-heading = Bei { $client } anmelden
login-intro = mit deinem Fediverse-Konto (Mastodon und kompatible Server).
login-label = Deine Adresse oder dein Server
login-hint = Zum Beispiel <code>@du@example.social</code> oder nur <code>example.social</code>.
    Du meldest dich auf deinem eigenen Server an; dein Passwort sehen wir nie.
login-choose-server = Oder wähle einen Server:

## Zustimmung (consent.html)

consent-title = Zugriff erlauben
consent-heading = { $client } möchte wissen, wer du bist
consent-signed-in-as = Du bist angemeldet als <strong>{ $handle }</strong>.
consent-will-receive = Wenn du fortfährst, erhält { $client }:
consent-item-identifier = eine dauerhafte Kennung deines Kontos
consent-item-profile = deinen Anzeigenamen, Benutzernamen und deine Adresse ({ $handle })
consent-item-links = Links zu deinem Profil und Profilbild
consent-item-offline = weiterhin Zugriff darauf, während du nicht da bist, bis du oder die App ihn widerruft
consent-no-posting = Die App kann nichts veröffentlichen, deine Nachrichten nicht lesen und nicht in deinem Namen handeln.
consent-return-to = Danach wirst du zu <strong>{ $host }</strong> zurückgeleitet.
consent-allow = Erlauben
consent-deny = Ablehnen
consent-not-you = Nicht du? <a href="{ $switch }">Anderes Konto oder anderen Server verwenden</a>.

## Fehler (error.html)

error-title = Etwas ist schiefgelaufen
error-restart = Server erneut wählen
error-go-back = Geh zurück zur Anwendung, von der du kamst, und melde dich erneut an.
    Wenn das immer wieder passiert, sag den Betreibern der Anwendung Bescheid.

## Zurück zur Anwendung (form_post.html)

form-post-title = Zurück zu { $host }
form-post-noscript = Dein Browser führt keine Skripte aus: Drücke „Weiter“, um zu { $host } zurückzukehren.

## Abmelden (logout.html)

logout-title = Abmelden
logout-done-heading = Du bist abgemeldet
logout-done-text = Du bist in diesem Browser nicht mehr bei { $service } angemeldet.
    Anwendungen, bei denen du dich angemeldet hast, können dich angemeldet lassen, bis du dich auch dort abmeldest.
logout-confirm-heading = Abmelden?
logout-confirm-client = { $client } möchte dich in diesem Browser von { $service } abmelden.
logout-confirm = In diesem Browser von { $service } abmelden.
logout-signed-in-as = Du bist angemeldet als <strong>{ $handle }</strong>.
logout-button = Abmelden
logout-not-asked = Wenn du dich nicht abmelden wolltest, schließ diese Seite: Du bleibst angemeldet.

## Unsere Seite für Server der Misskey-Familie (client_information.html)

client-info-title = Über diese App
client-info-text = { $name } meldet Personen mit ihrem Fediverse-Konto bei anderen Websites an.
    Diese Seite sagt Servern der Misskey-Familie, wer fragt, wenn du dich dort anmeldest.
client-info-about = Über { $name }
