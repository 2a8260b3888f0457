# Was schiefging, in den Worten unserer Fehlerseiten und der Auswahl.

## Überschriften der Fehlerseite

error-heading-unavailable = Bitte versuch es gleich noch einmal
error-heading-not-found = Seite nicht gefunden
error-heading-upstream = Dein Server konnte dich nicht anmelden
error-heading-too-many = Gerade zu viele Anmeldungen
error-heading-cannot-continue = Diese Anmeldung kann nicht weitergehen

## Anfragen, die wir nicht lesen können

error-not-found = Unter dieser Adresse gibt es nichts.
error-timeout = Das hat zu lange gedauert. Bitte versuch es noch einmal.
error-unavailable = Der Dienst ist gerade nicht erreichbar. Bitte versuch es gleich noch einmal.
error-bad-location = Die Adresse, zu der es weitergehen soll, ist ungültig.
error-request-too-large = Die Anmeldeanfrage ist zu groß.
error-request-not-form = Die Anmeldeanfrage wurde nicht als Formular gesendet.
error-request-not-text = Die Anmeldeanfrage ist kein gültiger Text.
error-request-malformed = Die Anmeldeanfrage ist fehlerhaft ({ $detail }).
error-callback-malformed = Die Adresse, zu der du zurückgeschickt wurdest, ist fehlerhaft.
error-form-unreadable = Das Formular konnte nicht gelesen werden.
error-choose-allow-deny = Wähle „Erlauben“ oder „Ablehnen“.
error-csrf = Das Formular wurde nicht von dieser Anmeldeseite gesendet. Lade die Seite neu und versuch es noch einmal.
error-cross-site = Dieses Formular wurde von einer anderen Website gesendet. Geh zurück zur Anwendung und melde dich erneut an.

## Die Anwendung und ihre Anfrage

error-unknown-client = Die Anwendung, die dich hergeschickt hat, ist bei diesem Dienst nicht registriert.
error-no-client-id = Die Anfrage nennt keine Anwendung (client_id fehlt).
error-no-redirect-uri = Die Anwendung hat nicht gesagt, wohin du zurückkehren sollst (redirect_uri fehlt).
error-unregistered-redirect = Die Anwendung möchte dich an eine Adresse zurückschicken, die sie nicht registriert hat.
error-client-gone = Die Anwendung, bei der du dich anmelden wolltest, ist nicht mehr registriert.
error-client-address-invalid = Die Adresse der Anwendung ist ungültig.

## Die Anmeldung selbst

error-expired = Diese Anmeldung ist abgelaufen oder wurde schon abgeschlossen. Geh zurück zur Anwendung und fang neu an.
error-pushed-expired = Diese Anmeldeanfrage ist abgelaufen oder wurde schon verwendet. Geh zurück zur Anwendung und fang neu an.
error-other-browser = Diese Anmeldung wurde in einem anderen Browser begonnen, oder dein Browser hat unser Cookie nicht behalten.
    Geh zurück zur Anwendung und fang neu an.
error-callback-no-state = Der Server hat dich ohne die nötigen Angaben zurückgeschickt. Fang in der Anwendung neu an.
error-mix-up = Diese Antwort kam von einem anderen Server als dem, den du gewählt hast. Fang in der Anwendung neu an.
error-upstream-reported = Dein Server hat einen Fehler gemeldet ({ $error }). Du kannst es noch einmal versuchen oder einen anderen Server wählen.
error-upstream-no-code = Dein Server hat dich ohne Anmeldecode zurückgeschickt. Versuch es noch einmal.
error-app-changed = Unsere Registrierung auf deinem Server hat sich während der Anmeldung geändert. Bitte versuch es noch einmal.
error-account-check-failed = { $instance } hat nicht geantwortet, als wir dein Konto prüfen wollten ({ $detail }).
    Bitte versuch es gleich noch einmal.
error-wrong-account = Du wolltest dich als { $expected } anmelden, aber { $instance } hat dich als { $actual } angemeldet.
    Wechsle dort das Konto oder wähle deinen Server erneut.
error-identity = { $instance } hat dein Konto nicht richtig ausgewiesen, deshalb können wir nicht dafür bürgen.

## Was in die Auswahl eingegeben wurde

handle-empty = Gib deine Fediverse-Adresse ein, etwa @du@example.social, oder deinen Server, etwa example.social.
handle-invalid = Das sieht nicht nach einer Fediverse-Adresse oder einem Servernamen aus. Versuch @du@example.social oder example.social.
handle-not-https = Nur Server mit https:// können verwendet werden.

## Der Server der Person

upstream-blocked = { $instance } kann mit diesem Dienst nicht verwendet werden.
upstream-unreachable = Wir konnten { $instance } nicht erreichen. Prüf die Schreibweise oder versuch es später noch einmal.
upstream-timeout = { $instance } hat nicht rechtzeitig geantwortet. Versuch es später noch einmal.
upstream-busy = { $instance } ist gerade ausgelastet. Versuch es in ein paar Minuten noch einmal.
upstream-unavailable = { $instance } hat gerade Probleme. Versuch es später noch einmal.
upstream-not-compatible = { $instance } sieht nicht nach einem Server aus, über den wir dich anmelden können (Mastodon, Misskey und Verwandte).
upstream-rejected = { $instance } hat es abgelehnt, dich bei uns anzumelden.
upstream-oauth-disabled = { $instance } erlaubt Apps keine Anmeldung: Die Administration hat das abgeschaltet.
    Melde dich mit einem Konto auf einem anderen Server an.
upstream-no-secure-sign-in = { $instance } unterstützt keine sichere Anmeldung für Apps: Der Server ist zu alt (Misskey vor 2023.9
    oder ein Fork ohne dessen OAuth 2.0). Bitte die Administration um ein Update oder melde dich mit einem Konto auf einem anderen Server an.
upstream-redirected = { $instance } leitet uns an eine andere Adresse weiter. Wenn dein Konto auf einem anderen Server liegt, gib dessen Namen ein.
upstream-internal = Beim Kontakt mit { $instance } ist etwas schiefgelaufen. Versuch es noch einmal.

## Die Regeln des Betreibers

refusal-instance-denied = Dieser Dienst nimmt keine Konten von { $instance } an: Der Betreiber hat diesen Server gesperrt.
refusal-instance-not-allowed = Dieser Dienst nimmt nur Konten von Servern an, die der Betreiber ausgewählt hat, und { $instance } gehört nicht dazu.
refusal-bot = { $handle } ist ein Bot-Konto. Dieser Dienst nimmt nur Konten von Menschen an, keine Bots.
refusal-too-new = { $handle } ist zu neu, um sich hier anzumelden: Dieser Dienst nimmt Konten an, die mindestens { $days ->
        [one] einen Tag
       *[other] { $days } Tage
    } alt sind. Bitte versuch es später noch einmal.
refusal-age-unknown = Dein Server hat uns nicht gesagt, wann { $handle } erstellt wurde, und dieser Dienst nimmt nur Konten an, die mindestens { $days ->
        [one] einen Tag
       *[other] { $days } Tage
    } alt sind. Deshalb können wir dich nicht hereinlassen.
refusal-locked = { $handle } ist ein geschütztes Konto (es bestätigt seine Follower). Dieser Dienst nimmt keine geschützten Konten an.
refusal-suspended = Dein Server meldet, dass { $handle } gesperrt ist. Dieser Dienst nimmt keine gesperrten Konten an.
refusal-limited = Dein Server meldet, dass { $handle } von der Moderation eingeschränkt ist. Dieser Dienst nimmt keine eingeschränkten Konten an.

## Schutz vor Missbrauch

limit-logins = Aus deinem Netz oder bei diesem Dienst wurden gerade zu viele Anmeldungen begonnen.
    Bitte warte kurz und versuch es dann noch einmal.
limit-picker = Aus deinem Netz wurden gerade zu viele Server ausprobiert. Bitte warte kurz und versuch es dann noch einmal.
limit-new-instances = Dieser Dienst hat in letzter Zeit die Anmeldung mit vielen neuen Servern eingerichtet und kann deinen gerade nicht hinzufügen.
    Bitte versuch es später noch einmal.
limit-api = Zu viele Anfragen. Bitte warte kurz und versuch es dann noch einmal.

## Abmelden

logout-unreadable = Die Abmeldeanfrage konnte nicht gelesen werden.
logout-malformed = Die Abmeldeanfrage ist fehlerhaft.
logout-bad-hint = Die Anwendung hat eine ungültige Abmeldeanfrage gesendet (id_token_hint stammt nicht von uns).
logout-client-mismatch = Die Anwendung hat eine ungültige Abmeldeanfrage gesendet (client_id passt nicht).
logout-unregistered-redirect = Die Anwendung möchte dich an eine Adresse schicken, die sie nicht registriert hat.
logout-csrf = Das Formular wurde nicht von unserer Abmeldeseite gesendet. Geh zurück zur Anwendung und melde dich erneut ab.
