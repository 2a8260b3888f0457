# Le compte, l’application et le retour en un clic (consent.html, login.html).
# Les messages sont du HTML : les arguments sont échappés.

## Le sélecteur : les comptes utilisés dans ce navigateur

accounts-list-label = Comptes utilisés dans ce navigateur
accounts-continue-as = Continuer en tant que { $handle }
accounts-forget = Oublier
accounts-forget-label = Oublier { $handle } dans ce navigateur
accounts-another = Utiliser un autre compte

## Consentement : le compte et l’application

accounts-your-server = Votre serveur : { $server }
accounts-client-logo = Logo de { $client }
accounts-client-about = À propos de { $client }
accounts-client-privacy = Politique de confidentialité
accounts-client-terms = Conditions d’utilisation
