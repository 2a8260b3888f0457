# A conta, o app e voltar com um clique (consent.html, login.html).
# As mensagens são HTML: os argumentos são escapados.

## O seletor: contas usadas neste navegador

accounts-list-label = Contas que você usou neste navegador
accounts-continue-as = Continuar como { $handle }
accounts-forget = Esquecer
accounts-forget-label = Esquecer { $handle } neste navegador
accounts-another = Usar outra conta

## Consentimento: a conta e o app

accounts-your-server = Seu servidor: { $server }
accounts-client-logo = Logotipo de { $client }
accounts-client-about = Sobre { $client }
accounts-client-privacy = Política de privacidade
accounts-client-terms = Termos de uso
