# Les pages que voit une personne. Les messages sont du HTML : les arguments
# sont échappés, le texte lui-même ne l’est pas.

## Commun

sign-in-title = Connexion
continue = Continuer

## Choix du serveur (login.html)

login-title = Se connecter avec le Fédivers
login-heading = Se connecter à { $client }
login-intro = avec votre compte du Fédivers (Mastodon et serveurs compatibles).
login-label = Votre adresse ou votre serveur
login-hint = Par exemple <code>@vous@example.social</code> ou simplement <code>example.social</code>.
    Vous vous connectez sur votre propre serveur ; nous ne voyons jamais votre mot de passe.
login-choose-server = Ou choisissez un serveur :

## Consentement (consent.html)

consent-title = Autoriser l’accès
consent-heading = { $client } veut savoir qui vous êtes
consent-signed-in-as = Vous êtes connecté·e en tant que <strong>{ $handle }</strong>.
consent-will-receive = Si vous continuez, { $client } recevra :
consent-item-identifier = un identifiant stable de votre compte
consent-item-profile = votre nom affiché, votre nom d’utilisateur et votre adresse ({ $handle })
consent-item-links = des liens vers votre profil et votre avatar
consent-item-offline = un accès continu pendant votre absence, jusqu’à ce que vous ou l’application le révoquiez
consent-no-posting = L’application ne pourra ni publier, ni lire vos messages, ni agir en votre nom.
consent-return-to = Vous serez ensuite renvoyé·e vers <strong>{ $host }</strong>.
consent-allow = Autoriser
consent-deny = Refuser
consent-not-you = Ce n’est pas vous ? <a href="{ $switch }">Utiliser un autre compte ou serveur</a>.

## Erreurs (error.html)

error-title = Un problème est survenu
error-restart = Choisir à nouveau votre serveur
error-go-back = Revenez à l’application d’où vous venez et recommencez la connexion.
    Si cela se reproduit, prévenez les responsables de l’application.

## Retour à l’application (form_post.html)

form-post-title = Retour vers { $host }
form-post-noscript = Votre navigateur n’exécute pas de scripts : appuyez sur Continuer pour revenir vers { $host }.

## Déconnexion (logout.html)

logout-title = Déconnexion
logout-done-heading = Vous êtes déconnecté·e
logout-done-text = Vous n’êtes plus connecté·e à { $service } dans ce navigateur.
    Les applications auxquelles vous vous êtes connecté·e peuvent vous garder connecté·e jusqu’à ce que vous vous y déconnectiez aussi.
logout-confirm-heading = Se déconnecter ?
logout-confirm-client = { $client } demande à vous déconnecter de { $service } dans ce navigateur.
logout-confirm = Se déconnecter de { $service } dans ce navigateur.
logout-signed-in-as = Vous êtes connecté·e en tant que <strong>{ $handle }</strong>.
logout-button = Se déconnecter
logout-not-asked = Si vous n’avez pas demandé à vous déconnecter, fermez cette page : vous restez connecté·e.

## Notre page pour les serveurs de la famille Misskey (client_information.html)

client-info-title = À propos de cette application
client-info-text = { $name } connecte les personnes à d’autres sites avec leur compte du Fédivers.
    Cette page indique aux serveurs de la famille Misskey qui fait la demande quand vous vous y connectez.
client-info-about = À propos de { $name }
