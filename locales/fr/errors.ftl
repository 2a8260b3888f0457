# Ce qui n’a pas marché, dans les mots de nos pages d’erreur et du choix du serveur.

## Titres de la page d’erreur

error-heading-unavailable = Réessayez dans un instant
error-heading-not-found = Page introuvable
error-heading-upstream = Votre serveur n’a pas pu vous connecter
error-heading-too-many = Trop de connexions en ce moment
error-heading-cannot-continue = Cette connexion ne peut pas continuer

## Requêtes illisibles

error-not-found = Il n’y a rien à cette adresse.
error-timeout = Cela a pris trop de temps. Veuillez réessayer.
error-unavailable = Le service est momentanément indisponible. Réessayez dans un instant.
error-bad-location = L’adresse vers laquelle continuer n’est pas valide.
error-request-too-large = La demande de connexion est trop volumineuse.
error-request-not-form = La demande de connexion n’a pas été envoyée sous forme de formulaire.
error-request-not-text = La demande de connexion n’est pas un texte valide.
error-request-malformed = La demande de connexion est mal formée ({ $detail }).
error-callback-malformed = L’adresse vers laquelle vous avez été renvoyé·e est mal formée.
error-form-unreadable = Le formulaire n’a pas pu être lu.
error-choose-allow-deny = Choisissez Autoriser ou Refuser.
error-csrf = Le formulaire n’a pas été envoyé depuis cette page de connexion. Rechargez la page et réessayez.
error-cross-site = Ce formulaire a été envoyé depuis un autre site. Revenez à l’application et reconnectez-vous.

## L’application et sa demande

error-unknown-client = L’application qui vous a envoyé·e ici n’est pas enregistrée auprès de ce service.
error-no-client-id = La demande ne nomme aucune application (client_id manque).
error-no-redirect-uri = L’application n’a pas indiqué où vous renvoyer (redirect_uri manque).
error-unregistered-redirect = L’application veut vous renvoyer vers une adresse qu’elle n’a pas enregistrée.
error-client-gone = L’application à laquelle vous vous connectiez n’est plus enregistrée.
error-client-address-invalid = L’adresse de l’application n’est pas valide.

## La connexion elle-même

error-expired = Cette connexion a expiré ou est déjà terminée. Revenez à l’application et recommencez.
error-pushed-expired = Cette demande de connexion a expiré ou a déjà servi. Revenez à l’application et recommencez.
error-other-browser = Cette connexion a commencé dans un autre navigateur, ou votre navigateur n’a pas gardé notre cookie.
    Revenez à l’application et recommencez.
error-callback-no-state = Le serveur vous a renvoyé·e sans les informations nécessaires. Recommencez depuis l’application.
error-mix-up = Cette réponse vient d’un autre serveur que celui que vous avez choisi. Recommencez depuis l’application.
error-upstream-reported = Votre serveur a signalé une erreur ({ $error }). Vous pouvez réessayer ou choisir un autre serveur.
error-upstream-no-code = Votre serveur vous a renvoyé·e sans code de connexion. Réessayez.
error-app-changed = Notre enregistrement sur votre serveur a changé pendant votre connexion. Veuillez réessayer.
error-account-check-failed = { $instance } n’a pas répondu quand nous avons vérifié votre compte ({ $detail }).
    Réessayez dans un instant.
error-wrong-account = Vous vouliez vous connecter en tant que { $expected }, mais { $instance } vous a connecté·e en tant que { $actual }.
    Changez de compte là-bas, ou choisissez à nouveau votre serveur.
error-identity = { $instance } n’a pas identifié correctement votre compte, nous ne pouvons donc pas nous en porter garants.

## Ce qui a été saisi dans le choix du serveur

handle-empty = Saisissez votre adresse du Fédivers, comme @vous@example.social, ou votre serveur, comme example.social.
handle-invalid = Cela ne ressemble pas à une adresse du Fédivers ni à un nom de serveur. Essayez @vous@example.social ou example.social.
handle-not-https = Seuls les serveurs en https:// peuvent être utilisés.

## Le serveur de la personne

upstream-blocked = { $instance } ne peut pas être utilisé avec ce service.
upstream-unreachable = Nous n’avons pas pu joindre { $instance }. Vérifiez l’orthographe, ou réessayez plus tard.
upstream-timeout = { $instance } n’a pas répondu à temps. Réessayez plus tard.
upstream-busy = { $instance } est très sollicité en ce moment. Réessayez dans quelques minutes.
upstream-unavailable = { $instance } rencontre des difficultés en ce moment. Réessayez plus tard.
upstream-not-compatible = { $instance } ne ressemble pas à un serveur avec lequel nous pouvons vous connecter (Mastodon, Misskey et apparentés).
upstream-rejected = { $instance } a refusé de vous connecter chez nous.
upstream-oauth-disabled = { $instance } ne permet pas aux applications de connecter des personnes : son administration l’a désactivé.
    Connectez-vous avec un compte sur un autre serveur.
upstream-no-secure-sign-in = { $instance } ne prend pas en charge une connexion sécurisée pour les applications : il est trop ancien (Misskey avant 2023.9,
    ou un fork sans son OAuth 2.0). Demandez une mise à jour à son administration, ou connectez-vous avec un compte sur un autre serveur.
upstream-redirected = { $instance } nous envoie vers une autre adresse. Si votre compte se trouve sur un autre serveur, saisissez le nom de ce serveur.
upstream-internal = Un problème est survenu en contactant { $instance }. Réessayez.

## Les règles de l’opérateur

refusal-instance-denied = Ce service n’accepte pas les comptes de { $instance } : son opérateur a bloqué ce serveur.
refusal-instance-not-allowed = Ce service n’accepte que les comptes des serveurs choisis par son opérateur, et { $instance } n’en fait pas partie.
refusal-bot = { $handle } est un compte de bot. Ce service n’accepte que les comptes de personnes, pas les bots.
refusal-too-new = { $handle } est trop récent pour se connecter ici : ce service accepte les comptes créés depuis au moins { $days ->
        [one] un jour
       *[other] { $days } jours
    }. Réessayez plus tard.
refusal-age-unknown = Votre serveur ne nous a pas dit quand { $handle } a été créé, et ce service n’accepte que les comptes créés depuis au moins { $days ->
        [one] un jour
       *[other] { $days } jours
    } : il ne peut donc pas vous laisser entrer.
refusal-locked = { $handle } est un compte verrouillé (il approuve ses abonné·es). Ce service n’accepte pas les comptes verrouillés.
refusal-suspended = Votre serveur indique que { $handle } est suspendu. Ce service n’accepte pas les comptes suspendus.
refusal-limited = Votre serveur indique que { $handle } est limité par sa modération. Ce service n’accepte pas les comptes limités.

## Limites contre les abus

limit-logins = Trop de connexions viennent d’être lancées depuis votre réseau ou sur ce service.
    Patientez un peu et réessayez.
limit-picker = Trop de serveurs viennent d’être essayés depuis votre réseau. Patientez un peu et réessayez.
limit-new-instances = Ce service a récemment ouvert la connexion à beaucoup de nouveaux serveurs et ne peut pas ajouter le vôtre pour l’instant.
    Réessayez plus tard.
limit-api = Trop de requêtes. Patientez un peu et réessayez.

## Déconnexion

logout-unreadable = La demande de déconnexion n’a pas pu être lue.
logout-malformed = La demande de déconnexion est mal formée.
logout-bad-hint = L’application a envoyé une demande de déconnexion non valide (id_token_hint ne vient pas de nous).
logout-client-mismatch = L’application a envoyé une demande de déconnexion non valide (client_id ne correspond pas).
logout-unregistered-redirect = L’application veut vous envoyer vers une adresse qu’elle n’a pas enregistrée.
logout-csrf = Le formulaire n’a pas été envoyé depuis notre page de déconnexion. Revenez à l’application et déconnectez-vous à nouveau.
